"""Statistics of fitted topics: target-enriched, background-enriched or shared per topic, and
gene-set enrichment of each topic's loadings."""

from bcnmf.enrichment.gene_set_tests import enrich_topics
from bcnmf.enrichment.gene_sets import load_gene_sets
from bcnmf.enrichment.topics import topic_enrichment

__all__ = ["enrich_topics", "load_gene_sets", "topic_enrichment"]
