"""The device side: frames through the unseen layers, on any runtime. Imports no TensorFlow."""
