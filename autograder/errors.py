"""The one exception type of the release: anything that must stop it, with a message for the instructor."""


class ReleaseError(Exception):
    """The release cannot go on; the message says what was expected and what was found."""
