"""Every model passes the shared Recommender contract."""

from shopaug.models import BPR, ItemKNN, Popularity, SASRec
from shopaug.testing import RecommenderContract


class TestPopularity(RecommenderContract):
    model_class = Popularity
    learns = False


class TestItemKNN(RecommenderContract):
    model_class = ItemKNN


class TestItemKNNRecency(RecommenderContract):
    model_class = ItemKNN
    config = {"recency": 0.8, "neighbors": 5}


class TestBPR(RecommenderContract):
    model_class = BPR
    config = {"dim": 8, "epochs": 50, "batch_size": 64, "lr": 0.02, "reg": 0.05}


class TestSASRec(RecommenderContract):
    model_class = SASRec
    config = {"dim": 16, "heads": 1, "epochs": 30, "batch_size": 16, "lr": 0.01, "dropout": 0.1}


class TestSASRecPrefixes(RecommenderContract):
    model_class = SASRec
    config = {"dim": 16, "heads": 1, "epochs": 30, "batch_size": 64, "lr": 0.01, "dropout": 0.1,
              "samples": "prefixes"}


class TestSASRecBCE(RecommenderContract):
    model_class = SASRec
    config = {"dim": 16, "heads": 1, "epochs": 30, "batch_size": 16, "lr": 0.01,
              "dropout": 0.1, "loss": "bce", "negatives": 4}


class TestSASRecSampledSoftmax(RecommenderContract):
    model_class = SASRec
    config = {"dim": 16, "heads": 1, "epochs": 30, "batch_size": 16, "lr": 0.01,
              "dropout": 0.1, "loss": "sampled", "negatives": 20, "sampler": "popularity"}


class TestSASRecInBatch(RecommenderContract):
    model_class = SASRec
    config = {"dim": 16, "heads": 1, "epochs": 30, "batch_size": 16, "lr": 0.01,
              "dropout": 0.1, "loss": "sampled", "negatives": 20, "sampler": "in_batch"}


class TestBPRHardNegatives(RecommenderContract):
    model_class = BPR
    config = {"dim": 8, "epochs": 50, "batch_size": 64, "lr": 0.02, "reg": 0.05,
              "sampler": "hard"}
