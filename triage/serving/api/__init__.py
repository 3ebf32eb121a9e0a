"""HTTP routes of INTERFACES.md; each handler checks the role and calls one service function."""
