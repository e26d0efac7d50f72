"""Makes nbval replay cells as Jupyter and papermill run them, so a trailing ';' still hides a value.

nbval 0.11 executes cells with store_history=False; IPython decides whether a trailing semicolon
silences a cell's value from the last *stored* input, so under nbval `save_figure(...);` shows a
Path that the stored notebook (run by papermill) does not have, and every such cell would differ.
"""
import nbval.kernel


def _execute_cell_input(self, cell_input, allow_stdin=None):
    return self.kc.execute(cell_input, store_history=True, allow_stdin=allow_stdin, stop_on_error=False)


nbval.kernel.RunningKernel.execute_cell_input = _execute_cell_input
