"""Built-in fact collection for every host: OS, release, hardware, installed software (issue 5)."""
