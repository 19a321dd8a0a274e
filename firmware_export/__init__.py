"""Takes the int8 model to microcontrollers and offline bundles. Imports no TensorFlow."""
