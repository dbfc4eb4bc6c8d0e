"""Pieces of the grade-cell runner that students never see: per-thread randomness, figures, hidden checks."""

import threading

import numpy as np

from autograder.grading.notebook_run import (NO_FIGURES, _Recorder, _recording_score, bounded_outputs,
                                            per_thread_numpy_random)
from autograder.notebook_spec import _grade_cell
from cs231n_lib.notebook_utils import Score


def test_each_grading_thread_has_its_own_global_numpy_generator():
    per_thread_numpy_random()
    main_before = np.random.get_state()
    draws, barrier = {}, threading.Barrier(2)

    def grade_cell(name):
        np.random.seed(231)                    # what a grade cell does
        barrier.wait()                          # the other thread seeds and draws in between
        first = np.random.randn(3)
        barrier.wait()
        draws[name] = (first, np.random.choice(100, 5))

    threads = [threading.Thread(target=grade_cell, args=(name,)) for name in ("a", "b")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    np.random.seed(231)
    alone = (np.random.randn(3), np.random.choice(100, 5))
    np.random.set_state(main_before)
    for first, second in draws.values():
        assert np.array_equal(first, alone[0]) and np.array_equal(second, alone[1])


def test_figures_are_drawn_nowhere_in_the_grader():
    plt = NO_FIGURES
    fig, ax = plt.subplots(2, 1)
    plt.rcParams["figure.figsize"] = (10, 6)
    ax[0].plot([1, 2, 3], "o")
    plt.legend()
    assert plt.show() is NO_FIGURES


def test_a_check_is_hidden_exactly_when_its_line_is_a_hidden_test(capsys):
    source = "\n".join([
        "score = Score()",
        "with score.check('public', points=1):",
        "    assert True",
        "### BEGIN HIDDEN TESTS",
        "for name in ('x', 'y'):",
        "    with score.check(f'hidden: {name}', points=1):",
        "        assert name == 'x', 'only x'",
        "### END HIDDEN TESTS",
        "score.earned",
    ])
    cell = _grade_cell("cell", 3.0, source)
    recorder = _Recorder(cell)
    namespace = {"Score": _recording_score(Score, recorder)}
    exec(compile(source, recorder.filename, "exec"), namespace)
    checks = {check["name"]: check for check in recorder.checks()}
    assert [checks[n]["hidden"] for n in ("public", "hidden: x", "hidden: y")] == [False, True, True]
    assert checks["hidden: y"]["passed"] is False and checks["hidden: y"]["detail"] is None   # no detail shown
    assert namespace["score"].earned == 2.0 and "PASS  public" in capsys.readouterr().out


def test_a_cells_outputs_are_cut_to_their_room_with_a_note():
    image = "A" * 600
    outputs = [{"output_type": "stream", "name": "stdout", "text": "x" * 300},
               {"output_type": "display_data", "data": {"image/png": image, "text/plain": "y" * 50}, "metadata": {}},
               {"output_type": "error", "ename": "ValueError", "evalue": "z" * 500, "traceback": ["t" * 500]}]
    kept, used = bounded_outputs(outputs, 500)
    assert used == 500 and sum(len(o.get("text", "")) for o in kept[:1]) == 300
    assert "image/png" not in kept[1]["data"] and kept[1]["data"]["text/plain"] == "y" * 50
    assert kept[2]["ename"] == "ValueError" and len(kept[2]["evalue"]) == 500 - 300 - 50 - len("ValueError")
    assert kept[2]["traceback"] == [""]
    left_out = 600 + (500 - len(kept[2]["evalue"])) + 500
    assert f"output truncated: {left_out} more characters left out" in kept[-1]["text"]
    assert bounded_outputs(outputs[:1], 1000) == (outputs[:1], 300)      # what fits is kept as it is
