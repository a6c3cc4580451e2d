"""The program admin, one module per area."""
