package oip

import (
	"encoding/json"
	"testing"
)

func BenchmarkStdlibBaseline(b *testing.B) {
	body := batch1Body()
	type in struct {
		Name     string    `json:"name"`
		Shape    []int64   `json:"shape"`
		Datatype string    `json:"datatype"`
		Data     []float64 `json:"data"`
	}
	type req struct {
		ID     string `json:"id"`
		Inputs []in   `json:"inputs"`
	}
	b.ReportAllocs()
	for b.Loop() {
		var r req
		if err := json.Unmarshal(body, &r); err != nil {
			b.Fatal(err)
		}
	}
}
