"""Flask plumbing: extensions, sign-in, Socket.IO, health, locale, error pages and CSRF."""
