"""ecglib: a thin library behind the notebook-first companion to five ECG transfer-learning studies.

Submodules are imported on demand (``import ecglib.train``) so that ``import ecglib``
stays fast; pyts and deepfake-ecg in particular are slow to import.
"""

__version__ = "0.1.0"

STUDIES = ("jang2021", "nguyen2025", "vavekanand", "surrey", "deepfake")
