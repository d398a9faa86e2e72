"""Document summarization: encoder-decoder with copying, pretrained from scratch on offline text."""
