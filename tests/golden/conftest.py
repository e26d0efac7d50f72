"""Adapts nbval 0.11 to this project's stored notebooks: cells replay as papermill ran them, and
numbers compare with the printed precision's tolerance (voltlib.workflow.golden.outputs_agree).

nbval 0.11 executes cells with store_history=False; IPython decides whether a trailing semicolon
silences a cell's value from the last *stored* input, so under nbval `save_figure(...);` shows a
Path that the stored notebook (run by papermill) does not have, and every such cell would differ.

nbval compares each sanitised output with `!=`; returning the sanitised text as a ToleratedText makes
that comparison tolerate a last-digit difference from another CPU while the text, every integer and
every decimal beyond its printed precision still must match.
"""
import nbval.kernel
import nbval.plugin

from voltlib.workflow.golden import ToleratedText


def _execute_cell_input(self, cell_input, allow_stdin=None):
    return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)


_sanitize = nbval.plugin.IPyNbCell.sanitize


def _sanitize_tolerant(self, s):
    out = _sanitize(self, s)
    return ToleratedText(out) if isinstance(out, str) else out


nbval.kernel.RunningKernel.execute_cell_input = _execute_cell_input
nbval.plugin.IPyNbCell.sanitize = _sanitize_tolerant
