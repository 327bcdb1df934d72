"""Hook implementations of the Starshipit plugin."""
