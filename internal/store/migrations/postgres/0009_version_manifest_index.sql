-- Registered copies are served by their manifest digest: find the versions that hold one.
CREATE INDEX model_versions_manifest ON model_versions (manifest_digest) WHERE manifest_digest != '';
