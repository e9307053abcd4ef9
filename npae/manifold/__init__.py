"""Manifold learning for 2-D maps of codes: t-SNE, and a k-nearest-neighbour score of how well a map keeps
classes apart."""

from .tsne import TSNE, knn_accuracy

__all__ = ["TSNE", "knn_accuracy"]
