"""Text primitives at the bottom of the layers: sentences and citation marks, answer units."""
