-- Raw samples by time: the download of a digest window (`/api/v1/samples`, every monitor,
-- including removed ones) and retention's pruning read a time range across monitors.
CREATE INDEX status_samples_at ON status_samples (at_ms);
