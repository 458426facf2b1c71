# Saves the models the R worker tests load, and what each must predict.
#
# Usage: Rscript make_r_models.R OUT_DIR
#
# OUT_DIR/lm/model.rds    lm(mpg ~ wt + hp + gear) on mtcars, gear a character column
# OUT_DIR/glm/model.rds   glm(am ~ wt, binomial) on mtcars
# OUT_DIR/wt.f64, hp.f64  the test rows' columns, little-endian float64
# OUT_DIR/gear.txt        their gear column, one per line
# OUT_DIR/lm.f64, glm.f64 the models' predictions for the test rows

args <- commandArgs(trailingOnly = TRUE)
out <- args[[1]]
cars <- mtcars
cars$gear <- as.character(cars$gear)
dir.create(file.path(out, "lm"), recursive = TRUE)
dir.create(file.path(out, "glm"), recursive = TRUE)
lm_model <- lm(mpg ~ wt + hp + gear, data = cars)
glm_model <- glm(am ~ wt, family = binomial, data = cars)
saveRDS(lm_model, file.path(out, "lm", "model.rds"))
saveRDS(glm_model, file.path(out, "glm", "model.rds"))

rows <- data.frame(wt = c(2.2, 3.1, 4.7, 1.9, 3.3), hp = c(90, 150, 230, 66, 110),
                   gear = c("3", "4", "5", "4", "3"), stringsAsFactors = FALSE)
f64 <- function(x, name) writeBin(as.double(x), file.path(out, name), size = 8, endian = "little")
f64(rows$wt, "wt.f64")
f64(rows$hp, "hp.f64")
writeLines(rows$gear, file.path(out, "gear.txt"))
f64(predict(lm_model, newdata = rows), "lm.f64")
f64(predict(glm_model, newdata = rows, type = "response"), "glm.f64")
