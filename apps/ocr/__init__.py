"""Handwriting OCR: a CTC line model on the shared core, trained on the user's line images (TSV/JSONL) or
on rendered handwriting-font lines and real digit strings; page segmentation, tesseract comparison and
batch prediction. The App is :data:`apps.ocr.app.APP`."""
