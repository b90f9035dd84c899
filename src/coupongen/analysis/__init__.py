"""What the purchase histories say: customer features, segments, product affinities, relevance."""
