/// panel's version, printed by `panel --version` and written into every document's provenance.
public enum PanelVersion {
    public static let current = "0.10.0"
}
