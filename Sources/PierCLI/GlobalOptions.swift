import ArgumentParser
import Logging
import PierCore

/// Options shared by every command that runs a server.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "Log line format: text (for a terminal) or json (one object per line).")
    var logFormat: LogFormat = .text

    @Option(
        name: .long,
        help: "Lowest log level written: trace, debug, info, notice, warning, error or critical.",
        transform: { text in
            guard let level = Logger.Level(rawValue: text.lowercased()) else {
                throw ValidationError("unknown log level \"\(text)\"")
            }
            return level
        }
    )
    var logLevel: Logger.Level = .info
}

extension LogFormat: ExpressibleByArgument {}
