print("orchctl: not yet implemented")
