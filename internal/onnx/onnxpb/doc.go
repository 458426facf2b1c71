// Package onnxpb holds the Go types generated from the ONNX protobuf schema. The
// schema, onnx-ml.proto, is the ONNX project's onnx/onnx-ml.proto3 (ONNX 1.23)
// unchanged: the variant with the map and sequence types of the ai.onnx.ml domain.
// Regenerating needs protoc and protoc-gen-go v1.36.12 on the PATH; building does not.
package onnxpb

//go:generate protoc --go_out=. --go_opt=paths=source_relative --go_opt=Monnx-ml.proto=github.com/mlship/mlship/internal/onnx/onnxpb onnx-ml.proto
