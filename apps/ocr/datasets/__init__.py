"""Recipes of the OCR app's generated data: handwriting-style lines drawn in Debian's fonts
(:mod:`~apps.ocr.datasets.fonts`, :mod:`~apps.ocr.datasets.render`) from real package
synopses (:mod:`~apps.ocr.datasets.corpus`), digit strings written with real MNIST/UCI
digits (:mod:`~apps.ocr.datasets.digits`), and the rendered set that combines them
(:mod:`~apps.ocr.datasets.rendered`)."""
