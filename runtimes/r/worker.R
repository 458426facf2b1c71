# mlship's worker for R models saved with saveRDS.
#
# Run as `Rscript worker.R MODEL_DIR`. It loads the model, reports its metadata, then
# answers predict requests one at a time, in the worker protocol of
# docs/worker-protocol.md, on its stdin and stdout. R's own output goes to stderr,
# which the server logs.
#
# The model is the file that $MLSHIP_R_MODEL_FILE or a `model_file: NAME.rds` line of
# the directory's MLmodel names, else the one .rds file in the directory (or in its
# data/ directory). Each request becomes a data.frame `df`, and the prediction is
# predict(model, newdata = df), with type = "response" when the model is a glm.
# Needs base R and jsonlite.

PROTOCOL <- 1L

main <- function() {
  out <- file("/dev/stdout", open = "wb", raw = TRUE)
  con <- file("stdin", open = "rb")
  sink(stderr())
  options(warn = 1)
  args <- commandArgs(trailingOnly = TRUE)
  dir <- if (length(args) > 0) args[[length(args)]] else Sys.getenv("MLSHIP_MODEL_DIR")
  model <- tryCatch(load_model(dir), error = function(e) e)
  if (inherits(model, "error")) {
    send_error(out, conditionMessage(model))
    quit(save = "no", status = 1)
  }
  send(out, ready(model))
  serve(con, out, model)
}

# load_model reads the model's .rds file, after checking that jsonlite is there.
load_model <- function(dir) {
  if (!requireNamespace("jsonlite", quietly = TRUE)) {
    stop("the R package jsonlite is not installed")
  }
  path <- model_file(dir)
  message("loading ", path)
  readRDS(path)
}

model_file <- function(dir) {
  if (!dir.exists(dir)) stop("model directory ", dir, " does not exist")
  name <- Sys.getenv("MLSHIP_R_MODEL_FILE")
  mlmodel <- file.path(dir, "MLmodel")
  if (name == "" && file.exists(mlmodel)) {
    line <- grep("^\\s*model_file:\\s*\\S+\\s*$", readLines(mlmodel, warn = FALSE), value = TRUE)
    if (length(line) > 0) name <- sub("^\\s*model_file:\\s*(\\S+)\\s*$", "\\1", line[[1]])
  }
  if (name != "") {
    if (grepl("(^|[/\\\\])\\.\\.([/\\\\]|$)", name) || grepl("^[/\\\\]", name)) {
      stop("model file ", name, " is not inside the model directory")
    }
    return(file.path(dir, name))
  }
  found <- list.files(dir, pattern = "\\.rds$", ignore.case = TRUE, full.names = TRUE)
  if (length(found) == 0) {
    found <- list.files(file.path(dir, "data"), pattern = "\\.rds$", ignore.case = TRUE, full.names = TRUE)
  }
  if (length(found) != 1) {
    stop("model directory ", dir, " must hold exactly one .rds file, or name one in MLmodel ",
         "(model_file: NAME.rds); found ", length(found))
  }
  found[[1]]
}

# ready describes the model: its predictors, when its terms name them.
ready <- function(model) {
  list(ok = TRUE, protocol = PROTOCOL, platform = "r_rds", inputs = input_specs(model),
       outputs = list(), columns = TRUE, batchable = TRUE)
}

input_specs <- function(model) {
  vars <- predictors(model)
  classes <- tryCatch(attr(terms(model), "dataClasses"), error = function(e) NULL)
  lapply(vars, function(v) {
    class <- if (!is.null(classes) && v %in% names(classes)) classes[[v]] else "numeric"
    list(name = v, datatype = column_datatype(class), shape = I(-1L))
  })
}

column_datatype <- function(class) {
  switch(class, numeric = "FP64", logical = "BOOL", factor = , ordered = , character = "BYTES", "FP64")
}

predictors <- function(model) {
  tryCatch(all.vars(delete.response(terms(model))), error = function(e) character(0))
}

serve <- function(con, out, model) {
  repeat {
    prefix <- readBin(con, "raw", 4L)
    if (length(prefix) == 0) return(invisible())
    header <- jsonlite::parse_json(rawToChar(read_exact(con, u32(read_rest(con, prefix, 4L)))))
    op <- if (is.null(header$op)) "" else header$op
    if (op == "predict") {
      nbytes <- vapply(header$inputs, function(s) as.numeric(s$nbytes), 0)
      payload <- read_exact(con, sum(nbytes))
      reply <- predict_request(model, header, payload, nbytes)
      send(out, reply$header, reply$buffers)
    } else if (op == "ping") {
      send(out, list(ok = TRUE))
    } else {
      send(out, list(ok = FALSE, error = paste("unknown op", op)))
    }
  }
}

read_rest <- function(con, got, n) {
  if (length(got) < n) got <- c(got, read_exact(con, n - length(got)))
  got
}

read_exact <- function(con, n) {
  buf <- raw(0)
  while (length(buf) < n) {
    more <- readBin(con, "raw", n - length(buf))
    if (length(more) == 0) stop("stdin closed inside a frame")
    buf <- c(buf, more)
  }
  buf
}

u32 <- function(b) {
  v <- readBin(b, "integer", 1L, size = 4L, endian = "little")
  if (v < 0) v + 2^32 else v
}

u32_raw <- function(n) writeBin(as.integer(n), raw(), size = 4L, endian = "little")

send <- function(out, header, buffers = list()) {
  json <- jsonlite::toJSON(header, auto_unbox = TRUE, digits = NA, null = "null")
  h <- charToRaw(enc2utf8(as.character(json)))
  writeBin(c(u32_raw(length(h)), h, unlist(buffers, use.names = FALSE)), out)
  flush(out)
}

# send_error reports a load failure; it does not need jsonlite, which may be missing.
send_error <- function(out, message) {
  json <- paste0('{"ok":false,"error":', encodeString(enc2utf8(message), quote = '"'), "}")
  h <- charToRaw(json)
  writeBin(c(u32_raw(length(h)), h), out)
  flush(out)
}

predict_request <- function(model, header, payload, nbytes) {
  df <- tryCatch(model_input(model, header, payload, nbytes), error = function(e) e)
  if (inherits(df, "error")) return(failure(df, client = TRUE))
  # Errors in predict are nearly always the request's: a missing column, a new factor
  # level, a wrong type.
  result <- tryCatch(predict_model(model, df), error = function(e) e)
  if (inherits(result, "error")) return(failure(result, client = TRUE))
  encoded <- tryCatch(encode_result(result), error = function(e) e)
  if (inherits(encoded, "error")) return(failure(encoded, client = FALSE))
  encoded
}

failure <- function(e, client) {
  list(header = list(ok = FALSE, error = conditionMessage(e), client_error = client), buffers = list())
}

predict_model <- function(model, df) {
  if (inherits(model, "glm")) {
    return(predict(model, newdata = df, type = "response"))
  }
  predict(model, newdata = df)
}

# model_input builds the data.frame a request stands for.
model_input <- function(model, header, payload, nbytes) {
  ends <- cumsum(nbytes)
  tensors <- lapply(seq_along(header$inputs), function(i) {
    spec <- header$inputs[[i]]
    bytes <- if (nbytes[[i]] > 0) payload[(ends[[i]] - nbytes[[i]] + 1):ends[[i]]] else raw(0)
    shape <- as.numeric(unlist(spec$shape))
    list(name = spec$name, shape = shape, values = decode(spec$datatype, bytes, prod(shape)))
  })
  if (length(tensors) == 0) stop("the request has no inputs")
  layout <- if (is.null(header$layout)) "tensors" else header$layout
  if (layout == "tensors" && length(tensors) == 1 && length(tensors[[1]]$shape) == 2) {
    return(matrix_frame(model, tensors[[1]]))
  }
  cols <- lapply(tensors, function(t) t$values)
  names(cols) <- vapply(tensors, function(t) t$name, "")
  data.frame(cols, check.names = FALSE, stringsAsFactors = FALSE)
}

# matrix_frame turns one rows-by-columns tensor into a data.frame whose columns are
# the model's predictors, in order.
matrix_frame <- function(model, t) {
  m <- matrix(t$values, nrow = t$shape[[1]], ncol = t$shape[[2]], byrow = TRUE)
  df <- as.data.frame(m, stringsAsFactors = FALSE)
  vars <- predictors(model)
  if (length(vars) == ncol(df)) names(df) <- vars
  df
}

decode <- function(datatype, b, n) {
  switch(datatype,
    FP64 = readBin(b, "double", n, size = 8L, endian = "little"),
    FP32 = readBin(b, "double", n, size = 4L, endian = "little"),
    INT8 = readBin(b, "integer", n, size = 1L, signed = TRUE),
    INT16 = readBin(b, "integer", n, size = 2L, signed = TRUE, endian = "little"),
    INT32 = readBin(b, "integer", n, size = 4L, endian = "little"),
    UINT8 = readBin(b, "integer", n, size = 1L, signed = FALSE),
    UINT16 = readBin(b, "integer", n, size = 2L, signed = FALSE, endian = "little"),
    UINT32 = decode_wide(b, n, 4L, FALSE),
    INT64 = decode_wide(b, n, 8L, TRUE),
    UINT64 = decode_wide(b, n, 8L, FALSE),
    BOOL = as.logical(as.integer(b)),
    BYTES = decode_strings(b, n),
    stop("unsupported datatype ", datatype)
  )
}

# decode_wide reads unsigned 32-bit and 64-bit integers, which R's integers cannot
# hold, as doubles.
decode_wide <- function(b, n, size, signed) {
  words <- readBin(b, "integer", n * size / 4L, size = 4L, endian = "little")
  words <- ifelse(words < 0, words + 2^32, words)
  if (size == 4L) return(words)
  lo <- words[c(TRUE, FALSE)]
  hi <- words[c(FALSE, TRUE)]
  if (signed) hi <- ifelse(hi >= 2^31, hi - 2^32, hi)
  hi * 2^32 + lo
}

decode_strings <- function(b, n) {
  out <- character(n)
  off <- 0
  for (i in seq_len(n)) {
    k <- u32(b[(off + 1):(off + 4)])
    out[[i]] <- if (k > 0) rawToChar(b[(off + 5):(off + 4 + k)]) else ""
    off <- off + 4 + k
  }
  Encoding(out) <- "UTF-8"
  out
}

# encode_result turns what predict returned into the reply's tensors.
encode_result <- function(result) {
  if (is.data.frame(result)) {
    outs <- lapply(names(result), function(n) encode_tensor(n, result[[n]]))
    kind <- "table"
  } else if (is.list(result)) {
    keys <- names(result)
    if (is.null(keys)) keys <- as.character(seq_along(result))
    outs <- lapply(seq_along(result), function(i) encode_tensor(keys[[i]], result[[i]]))
    kind <- "dict"
  } else {
    outs <- list(encode_tensor("predictions", result))
    kind <- "array"
  }
  list(header = list(ok = TRUE, kind = kind, outputs = lapply(outs, `[[`, "spec")),
       buffers = lapply(outs, `[[`, "buffer"))
}

encode_tensor <- function(name, x) {
  shape <- if (is.matrix(x)) dim(x) else length(x)
  if (is.matrix(x)) x <- as.vector(t(x))
  if (is.factor(x)) x <- as.character(x)
  if (is.character(x)) {
    datatype <- "BYTES"
    buffer <- encode_strings(x)
  } else if (is.logical(x)) {
    datatype <- "BOOL"
    buffer <- as.raw(ifelse(is.na(x), 0L, as.integer(x)))
  } else if (is.integer(x)) {
    datatype <- "INT32"
    buffer <- writeBin(x, raw(), size = 4L, endian = "little")
  } else if (is.numeric(x)) {
    datatype <- "FP64"
    buffer <- writeBin(as.double(x), raw(), size = 8L, endian = "little")
  } else {
    stop("predict returned a ", class(x)[[1]], ", which mlship cannot send")
  }
  list(spec = list(name = name, datatype = datatype, shape = I(as.integer(shape)), nbytes = length(buffer)),
       buffer = buffer)
}

encode_strings <- function(x) {
  x[is.na(x)] <- ""
  parts <- lapply(enc2utf8(x), function(s) {
    b <- charToRaw(s)
    c(u32_raw(length(b)), b)
  })
  if (length(parts) == 0) raw(0) else unlist(parts, use.names = FALSE)
}

main()
