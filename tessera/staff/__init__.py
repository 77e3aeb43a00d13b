"""Staff: accounts, sign-in and bearer tokens, and who may do what."""
