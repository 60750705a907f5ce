"""A stand-in for the samplers' tqdm bar, for tests of what it is shown."""
import sys


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


def recorded_bars(monkeypatch, module: str) -> list:
    """The bars the sampler in `module` makes from now on, each a RecordingBar."""
    bars = []

    def record(*args):
        bars.append(RecordingBar(*args))
        return bars[-1]
    monkeypatch.setattr(sys.modules[module], "progress_bar", record)
    return bars
