"""Recipes for the vision app's shipped and generated data sets, written as COCO instances:
StarDist nuclei tiles (:mod:`apps.vision.datasets.nuclei`) and generated multi-class scenes
(:mod:`apps.vision.datasets.scenes`). Same seed, same bytes."""
