"""Transport-agnostic chat commands: parse args -> call engine -> Reply."""
