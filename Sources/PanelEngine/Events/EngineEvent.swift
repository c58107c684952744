public import PanelKit

/// What the engine reports while it works, for any front end to subscribe to: a terminal view, an
/// HTTP event stream, a log.
public enum EngineEvent: Sendable {
    /// A persona is about to be asked about a listing.
    case started(persona: Persona, listing: Listing)
    /// More of a streamed answer arrived.
    case delta(persona: Persona, listing: Listing, text: String)
    /// The answer streamed so far was abandoned (a retry, a failover, a hedge that won): what comes
    /// next replaces it.
    case restarted(persona: Persona, listing: Listing)
    /// The answer could not be read; the persona is asked once more.
    case repairing(persona: Persona, listing: Listing, reason: String)
    /// A persona answered or abstained.
    case finished(PersonaResult, listing: Listing)
    /// A batch listing is done (its documents written), failed, or was given back unfinished.
    case listingFinished(key: String, name: String?, status: BatchItem.Status)
    /// The batch's spending so far, after a persona result with a cost.
    case spend(totalUSD: Double)
    /// Something the user should know that did not stop the run (a malformed listing, a document that
    /// could not be written), as a sentence naming what and where.
    case problem(String)
}
