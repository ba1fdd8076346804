// tusk-test-worker: runs one named scenario against a database for multi-process tests.
//
//   tusk-test-worker <scenario> [--key value …]
//
// Output: one event per line on stdout, `<name> key=value …` (values percent-encoded; the format of
// PGTestSupport's PGWorkerEvent), written with one write(2) per line so a SIGKILL never leaves a
// half line. Every scenario prints `start scenario=… pid=…` first; on failure `error message=…` and
// exit status 1; unknown scenario or bad arguments: exit status 64. Started by PGWorkerProcess (TUSK_WORKER_PARENT_PID set), the
// worker exits when its stdin reaches EOF (the test process closed it or died), so no worker outlives
// its test.

import Foundation
import PGTestSupport

let scenarios: [String: any WorkerScenario.Type] = [
    PingScenario.name: PingScenario.self,
    HoldLocksScenario.name: HoldLocksScenario.self,
    LedgerWriterScenario.name: LedgerWriterScenario.self,
    RateLimitScenario.name: RateLimitScenario.self,
    BreakerScenario.name: BreakerScenario.self,
    ActorScenario.name: ActorScenario.self,
    QueueScenario.name: QueueScenario.self,
]

let arguments = WorkerArguments(CommandLine.arguments.dropFirst())
guard let scenarioName = arguments.scenario, let scenario = scenarios[scenarioName] else {
    WorkerOutput.emit("error", [("message", "usage: tusk-test-worker <\(scenarios.keys.sorted().joined(separator: "|"))> [--key value …]")])
    exit(64)
}
WorkerOutput.exitWhenInputCloses()
WorkerOutput.emit("start", [("scenario", scenarioName), ("pid", String(ProcessInfo.processInfo.processIdentifier))])
do {
    try await scenario.run(arguments)
    exit(0)
} catch {
    WorkerOutput.emit("error", [("message", "\(error)")])
    exit(1)
}
