"""A job's time by phase: nested phases are not counted twice, and the logged line reads back."""

from services.trainer.phases import Phases, parse


def test_nested_phases_count_once_and_the_summary_reads_back():
    now = [0.0]
    phases = Phases(clock=lambda: now[0])
    phases.add("start-up", 1.25)
    with phases.timed("fit"):
        now[0] += 2.0
        with phases.timed("checkpoints"):
            now[0] += 0.5
        now[0] += 3.0
    with phases.timed("checkpoints"):
        now[0] += 0.25
    assert phases.seconds == {"start-up": 1.25, "fit": 5.0, "checkpoints": 0.75}
    assert phases.summary() == "time by phase: start-up 1.25 s, fit 5.00 s, checkpoints 0.75 s"
    assert parse(phases.summary()) == phases.seconds
    assert parse("training on 1150 images of 10 classes") is None
