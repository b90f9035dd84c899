"""What a night did, for people and machines: summary, HTML report, charts."""
