package config

import "testing"

func TestS3Settings(t *testing.T) {
	c := DefaultServer()
	c.DataDir = t.TempDir()
	c.ArtifactsDestination = "s3://bucket/team/artifacts?region=eu-west-1"
	c.S3Endpoint = "http://minio:9000"
	c.S3Region = "us-east-1" // the URI's own region wins
	c.S3PathStyle = true
	if err := c.Resolve(); err != nil {
		t.Fatal(err)
	}
	if want := "s3://bucket/team/artifacts?endpoint=http%3A%2F%2Fminio%3A9000&path_style=true&region=eu-west-1"; c.ArtifactsDestination != want {
		t.Errorf("ArtifactsDestination = %q, want %q", c.ArtifactsDestination, want)
	}
	if want := "s3://bucket/team/artifacts/.mlship-content?endpoint=http%3A%2F%2Fminio%3A9000&path_style=true&region=eu-west-1"; c.ContentDestination != want {
		t.Errorf("ContentDestination = %q, want %q", c.ContentDestination, want)
	}

	local := DefaultServer()
	local.DataDir = t.TempDir()
	local.S3Endpoint = "http://minio:9000"
	if err := local.Resolve(); err == nil {
		t.Error("--s3-endpoint without an s3:// destination was accepted")
	}
}
