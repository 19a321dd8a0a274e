"""`unseen expose`: any .tflite made elsewhere becomes an unseen artefact with every layer an output."""
