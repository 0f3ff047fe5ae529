"""The one exception type whose message is shown to the user as it is."""


class PipelineError(Exception):
    """A failure the user can act on: its message is one plain sentence."""
