"""The paper's figures, one module per chapter over one house style (style): a notebook imports its chapter's alone,
so an edit to one figure reruns only the notebooks that draw with it."""
