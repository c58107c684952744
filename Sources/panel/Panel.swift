import ArgumentParser
import Foundation
import PanelRuntime
import Synchronization

/// `panel`: drafts reviews of software tools with a panel of model personas.
@main
struct Panel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "panel",
        abstract: "Draft reviews of software tools with a panel of four model personas.",
        discussion: """
            Builder, Skeptic, Founder and Futurist each read a listing, answer through a language model with a \
            score out of 100, a ship/skip verdict and a paragraph; panel aggregates their votes into a review, or a \
            comparison page for two or more tools.

            Exit codes: 0 every persona answered; 3 the document was written but some persona abstained; \
            2 usage, input or configuration error; 1 nothing could be produced.
            """,
        version: PanelVersion.current,
        subcommands: [
            ReviewCommand.self, BatchCommand.self, RenderCommand.self, BackendsCommand.self, RouteCommand.self, InitCommand.self,
            StoreCommand.self, JobsCommand.self, WorkerCommand.self, ServeCommand.self, TokensCommand.self, EvalCommand.self,
            StatsCommand.self, CalibrateCommand.self, AuditCommand.self, PublishCommand.self,
        ],
        defaultSubcommand: nil
    )

    /// Runs the command line on Swift's global executor while the main thread waits on a semaphore:
    /// nothing in panel needs the main queue, and an `async` main parks the main thread in
    /// `dispatch_main`, whose `sigsuspend` on a constant mask valgrind cannot run — so callgrind could not
    /// count a run's instructions (`bench/instructions.sh`, CI's guard).
    static func main() {
        // The main thread takes the process's signals (every other thread blocks them), as it did while
        // parked in `dispatch_main`, whatever mask the process was started with.
        var none = sigset_t()
        sigemptyset(&none)
        pthread_sigmask(SIG_SETMASK, &none, nil)
        // `batch` and `worker` run their tasks on the event loop their sockets use (ExecutorPlan says why);
        // the loop starts on its own thread while the command line is parsed.
        let plan = ExecutorPlan(arguments: CommandLine.arguments)
        plan.prepare()
        let done = DispatchSemaphore(value: 0)
        let code = Atomic<Int32>(0)
        Task.detached {
            code.store(await run(on: plan), ordering: .relaxed)
            done.signal()
        }
        done.wait()
        Foundation.exit(code.load(ordering: .relaxed))
    }

    /// The command line with panel's exit codes: usage errors exit 2, not ArgumentParser's 64. Parsed
    /// where the task started; run where the plan says.
    static func run(on plan: ExecutorPlan) async -> Int32 {
        // A reader that went away (`panel review … | head -1`) makes writes fail with EPIPE, reported like any
        // other failed write, instead of killing the process.
        signal(SIGPIPE, SIG_IGN)
        do {
            let command = try parseAsRoot()
            let ran: Result<Void, any Error> = await plan.run {
                do {
                    if var command = command as? any AsyncParsableCommand {
                        try await command.run()
                    } else {
                        var command = command
                        try command.run()
                    }
                    return .success(())
                } catch {
                    return .failure(error)
                }
            }
            try ran.get()
            return 0
        } catch let exit as ExitCode {
            return exit.rawValue
        } catch {
            let status = exitCode(for: error)
            let message = fullMessage(for: error)
            if status == .success {
                print(message)
                return 0
            }
            if !message.isEmpty { try? FileHandle.standardError.write(contentsOf: Data((message + "\n").utf8)) }
            return status == .validationFailure ? PanelExit.usage.rawValue : status.rawValue
        }
    }
}

/// panel's exit codes.
enum PanelExit {
    static let allAnswered = ExitCode(0)
    static let nothingProduced = ExitCode(1)
    static let usage = ExitCode(2)
    static let someAbstained = ExitCode(3)
    static let interrupted = ExitCode(130)
}
