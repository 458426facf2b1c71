module github.com/mlship/mlship

go 1.26.8
