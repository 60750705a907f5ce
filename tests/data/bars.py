"""A stand-in for the samplers' tqdm bar, for tests of what it is shown."""


class RecordingBar:
    """Stands in for tqdm (which redraws at most every 0.1 s): keeps what it is shown."""

    def __init__(self, total, desc, enabled):
        self.desc, self.n, self.shown = desc, 0, []

    def update(self, n):
        self.n += n

    def set_postfix_str(self, text, refresh=True):
        self.shown.append(text)

    def close(self):
        pass
