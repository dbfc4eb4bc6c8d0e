"""Grades into the LMS: the Canvas and Moodle gradebook CSVs written from the LMS's own roster export.

Results are written by hand (the export reads result files only), so these tests grade nothing."""

import csv
import io

import pytest

from autograder.__main__ import main
from autograder.commands import export as export_command
from autograder.course import Layout
from autograder.grading.results import RESULT_FORMAT, write_result
from autograder.lms import RosterError, export_lms_gradebook

ASSIGNMENT = "conv_pool"

CANVAS_ROSTER = (
    "\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,conv_pool (4471),Midterm (4480),Current Score\r\n"
    "    Points Possible,,,,,40,100,(read only)\r\n"
    '"Lovelace, Ada",101,S-0101,ada@uni.edu,CS231n-A,,88,\r\n'
    '"Hopper, Grace",102,S-0102,ghopper@uni.edu,CS231n-A,,91,\r\n'
    '"Turing, Alan",103,S-0103,aturing@uni.edu,CS231n-B,,75,\r\n'
    '"Noether, Emmy",104,S-0104,enoether@uni.edu,CS231n-B,,80,\r\n')

MOODLE_ROSTER = (
    "First name,Last name,ID number,Institution,Department,Email address,Assignment: conv_pool (Real),"
    "Last downloaded from this course\n"
    "Ada,Lovelace,S-0101,Uni,CS,ada@uni.edu,-,1700000000\n"
    "Grace,Hopper,S-0102,Uni,CS,ghopper@uni.edu,-,1700000000\n")


def a_result(student: str, earned: float, *, pending: float = 0.0, held: str | None = None,
             grader_error: str | None = None) -> dict:
    """A result file's content with one auto-graded cell (10 points) and, when ``pending``, a written answer."""
    cells = [{"grade_id": "conv-forward", "title": "conv forward", "manual": False, "score": earned, "points": 10.0,
              "checks": [], "status": "graded"}]
    if pending:
        cells.append({"grade_id": "written-answer", "title": "why", "manual": True, "score": None, "points": pending,
                      "status": "needs manual grading"})
    notebook = {"name": "ConvPool.ipynb", "score": earned, "max_score": 10.0 + pending, "cells": cells}
    if held:
        notebook["held"] = held
    result = {"format": RESULT_FORMAT, "student_id": student, "assignment": ASSIGNMENT, "score": earned,
              "max_score": 10.0 + pending, "pending_manual_points": pending, "notebook": notebook,
              "library": None, "checkpoint": None, "integrity": {"held": bool(held), "findings": []}}
    if grader_error:
        result["grader_error"] = grader_error
    return result


@pytest.fixture
def layout(tmp_path):
    return Layout.of_repo().with_outputs(course_dir=tmp_path / "course")


def graded(layout, *results):
    for result in results:
        write_result(layout.result_file(ASSIGNMENT, result["student_id"]), result)


def rows_of(path):
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def roster(tmp_path, text, name="roster.csv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


def test_a_matched_class_goes_into_the_canvas_assignment_column(layout, tmp_path):
    # Matched by SIS User ID, by login, by the login's local part and by Canvas's download name.
    graded(layout, a_result("S-0101", 10.0), a_result("ghopper@uni.edu", 7.5), a_result("aturing", 0.0),
           a_result("noetheremmy", 9.0))
    export = export_lms_gradebook(layout, ASSIGNMENT, roster(tmp_path, CANVAS_ROSTER))
    assert export.path == layout.assignment_exports(ASSIGNMENT) / "canvas_grades.csv"
    assert rows_of(export.path) == [
        ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "conv_pool (4471)"],
        ["Points Possible", "", "", "", "", "10"],
        ["Lovelace, Ada", "101", "S-0101", "ada@uni.edu", "CS231n-A", "10"],
        ["Hopper, Grace", "102", "S-0102", "ghopper@uni.edu", "CS231n-A", "7.5"],
        ["Turing, Alan", "103", "S-0103", "aturing@uni.edu", "CS231n-B", "0"],
        ["Noether, Emmy", "104", "S-0104", "enoether@uni.edu", "CS231n-B", "9"]]
    assert export.column == "conv_pool (4471)" and not export.not_final and not export.without_submission


def test_an_unmatched_student_is_refused_by_name_and_nothing_is_written(layout, tmp_path, monkeypatch, capsys):
    graded(layout, a_result("S-0101", 10.0), a_result("zed", 4.0), a_result("mallory", 3.0))
    with pytest.raises(RosterError, match=r"2 graded student\(s\) match no roster row: mallory, zed"):
        export_lms_gradebook(layout, ASSIGNMENT, roster(tmp_path, CANVAS_ROSTER))
    assert not (layout.assignment_exports(ASSIGNMENT) / "canvas_grades.csv").exists()

    # The command says so and fails (nbgrader's own CSV export is not what this test is about).
    monkeypatch.setattr(export_command, "export_csv", lambda layout: layout.exports_dir / "grades.csv")
    code = main(["export", ASSIGNMENT, "--course-dir", str(layout.course_dir),
                 "--roster", str(tmp_path / "roster.csv")])
    assert code == 1 and "match no roster row: mallory, zed" in capsys.readouterr().err


def test_one_id_that_matches_two_roster_rows_is_refused(layout, tmp_path):
    twins = CANVAS_ROSTER + '"Lovelace, Ada",105,S-0105,ada@other.edu,CS231n-B,,,\r\n'
    graded(layout, a_result("ada", 10.0))
    with pytest.raises(RosterError, match=r"1 match several rows: ada \(rows of Lovelace, Ada, Lovelace, Ada\)"):
        export_lms_gradebook(layout, ASSIGNMENT, roster(tmp_path, twins))


def test_a_grade_that_is_not_final_leaves_an_empty_cell_and_is_reported(layout, tmp_path, monkeypatch, capsys):
    graded(layout, a_result("S-0101", 10.0, pending=2.0), a_result("S-0102", 6.0, held="held for review: patch"),
           a_result("S-0103", 0.0, grader_error="could not be graded: the grader failed"))
    export = export_lms_gradebook(layout, ASSIGNMENT, roster(tmp_path, CANVAS_ROSTER))
    cells = {row[2]: row[5] for row in rows_of(export.path)[2:]}
    assert cells == {"S-0101": "", "S-0102": "", "S-0103": "", "S-0104": ""}   # never 0 nor a partial score
    assert export.not_final == {"S-0101": "2 point(s) of written answers still to grade by a TA",
                                "S-0102": "notebook held for review: patch",
                                "S-0103": "not graded: could not be graded: the grader failed"}
    assert export.without_submission == ["Noether, Emmy"]

    monkeypatch.setattr(export_command, "export_csv", lambda layout: layout.exports_dir / "grades.csv")
    code = main(["export", ASSIGNMENT, "--course-dir", str(layout.course_dir),
                 "--roster", str(tmp_path / "roster.csv")])
    out = capsys.readouterr().out
    assert code == 0
    assert "EMPTY CELL for S-0101, the grade is not final: 2 point(s) of written answers" in out
    assert "1 roster student(s) without a result, left empty: Noether, Emmy" in out


def test_a_moodle_roster_gets_moodles_import_file(layout, tmp_path):
    graded(layout, a_result("ada", 8.0), a_result("S-0102", 9.5))
    export = export_lms_gradebook(layout, ASSIGNMENT, roster(tmp_path, MOODLE_ROSTER),
                                  column="Assignment: conv_pool (Real)")
    assert rows_of(export.path) == [
        ["First name", "Last name", "ID number", "Email address", "Assignment: conv_pool (Real)"],
        ["Ada", "Lovelace", "S-0101", "ada@uni.edu", "8"],
        ["Grace", "Hopper", "S-0102", "ghopper@uni.edu", "9.5"]]


def test_a_roster_that_is_no_gradebook_export_is_refused_with_what_was_expected(layout, tmp_path):
    graded(layout, a_result("ada", 8.0))
    with pytest.raises(RosterError, match=r"expected the LMS's gradebook export, with the columns Student, ID, "
                                          r"SIS Login ID \(canvas\) or .*its header is: name, grade"):
        export_lms_gradebook(layout, ASSIGNMENT, roster(tmp_path, "name,grade\nada,8\n"))
