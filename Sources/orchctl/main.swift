import OrchctlCommands

Orchctl.main(Orchctl.hoistingGlobalOptions(Array(CommandLine.arguments.dropFirst())))
