"""A notebook with a script in every place a student can write, for the attacks on formgrader.

formgrader renders the graded copy of a notebook with nbconvert, which passes raw HTML in
markdown and raw cells through and prints a cell's grade_id into the page; a script there
runs in the TA's Jupyter session and could give grades through formgrader's API. Each payload
sets a numbered marker, ``window.PWN<n>``; none may reach a place where it would run
(tests/autograder/grading/test_hostile_notebooks.py reads the page's HTML,
tests/browser/test_jupyterlab.py opens it in Chromium). One more cell aims at the
instructor's terminal, through the integrity report.
"""

from pathlib import Path

from autograder.notebooks import read_notebook, write_notebook

ANSWER_ID = "convpool-answer-pooling"
ANSWER_TEXT = "Pooling keeps the largest activation of each window."

SCRIPTED_ANSWER = ANSWER_TEXT + """
<script>window.PWN1 = 1</script>
<img src=x onerror="window.PWN2 = 1">
[a link](javascript:window.PWN3=1) and <a href="jav&#x09;ascript:window.PWN4=1">another</a>
<svg onload="window.PWN5 = 1"></svg>
<iframe srcdoc="<script>window.PWN6 = 1</script>"></iframe>

    an indented code block, then a blank line

<style>body { background: url("javascript:window.PWN7=1") }</style>
<meta http-equiv="refresh" content="0;url=javascript:window.PWN8=1">
"""
SCRIPTED_MARKDOWN = '<details open ontoggle="window.PWN9 = 1">details</details>\n\n$x < y$ <b onmouseover=PWN10>b</b>'
SCRIPTED_RAW = "<script>window.PWN11 = 1</script>"
SCRIPTED_GRADE_ID = 'x" autofocus onfocus="window.PWN12 = 1'
SCRIPTED_DISPLAY = """
from IPython.display import HTML, Javascript, display
display(HTML("<script>window.PWN13 = 1</script>"))
display(Javascript("window.PWN14 = 1"))
"""

# And for the instructor's terminal: a path literal the integrity scan reports, which would move
# the cursor up, erase that line and reverse the text after it if printed as it is.
SCRIPTED_TERMINAL = 'print(len("/tmp/\\x1b[1A\\x1b[2K\\u202eerased"))\n'


def with_scripts(folder: Path, notebook: str) -> None:
    """The untouched stubs, with every place of the notebook a student can write holding a script."""
    path = folder / notebook
    data = read_notebook(path)
    for cell in data["cells"]:
        grading = cell.get("metadata", {}).get("nbgrader", {})
        if grading.get("grade_id") == ANSWER_ID:
            cell["source"] = SCRIPTED_ANSWER
        elif grading.get("solution") and cell["cell_type"] == "code":
            grading["grade_id"] = SCRIPTED_GRADE_ID
            cell["metadata"]["tags"] = ['"><script>window.PWN15 = 1</script>']
    data["cells"][2:2] = [
        {"cell_type": "markdown", "id": "added-markdown", "metadata": {}, "source": SCRIPTED_MARKDOWN},
        {"cell_type": "raw", "id": "added-raw", "metadata": {"raw_mimetype": "text/html"}, "source": SCRIPTED_RAW},
        {"cell_type": "code", "execution_count": None, "id": "added-display", "metadata": {}, "outputs": [],
         "source": SCRIPTED_DISPLAY},
        {"cell_type": "code", "execution_count": None, "id": "added-terminal", "metadata": {}, "outputs": [],
         "source": SCRIPTED_TERMINAL}]
    data["metadata"]["title"] = "</title><script>window.PWN16 = 1</script>"
    data["metadata"]["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {"w": {
        "model_name": "HTMLModel", "state": {"value": "<img src=x onerror='window.PWN17 = 1'>"}}}}}
    write_notebook(data, path)
