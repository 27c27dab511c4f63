import ArgumentParser

@main
struct PolicyHubCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policyhub",
        abstract: "A self-hosted registry for Pulumi policy packs that speaks Pulumi Cloud's Policy Packs API.",
        subcommands: [ServeCommand.self, AdminCommand.self, FetchCommand.self, ReportCommand.self]
    )
}
