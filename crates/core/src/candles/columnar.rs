//! CSV, Parquet and Feather (Arrow IPC) candle files, read with polars:
//! columns `t, o, h, l, c, v` (the long names `time, open, high, low,
//! close, volume` are accepted too, and freqtrade's `date`, a UTC datetime
//! of any unit), any other columns ignored. The result is the same
//! `Vec<Candle>` as the JSON path, validated by the same rules afterwards.

use super::Candle;
use polars::prelude::*;
use std::path::Path;

/// Why a CSV, Parquet or Feather file gives no candles.
#[derive(Debug, thiserror::Error)]
pub enum ColumnarError {
    #[error("cannot open: {0}")]
    Open(#[source] std::io::Error),
    /// polars cannot read the file as `format` (`"CSV"`, `"Parquet"`,
    /// `"Feather (Arrow IPC)"`).
    #[error("cannot read {format}: {source}")]
    Read {
        format: &'static str,
        source: PolarsError,
    },
    #[error("missing column 't' (or '{}')", TIME_COLUMNS[1..].join("' or '"))]
    MissingTime,
    #[error("missing column '{short}' (or '{long}')")]
    MissingColumn {
        short: &'static str,
        long: &'static str,
    },
    #[error("column '{column}' is not an integer time or a datetime: {source}")]
    NotTime { column: String, source: PolarsError },
    #[error("column '{column}' is not numeric: {source}")]
    NotNumeric { column: String, source: PolarsError },
    /// A column polars cast but then would not read as that type.
    #[error("{0}")]
    Column(#[source] PolarsError),
    #[error("row {row}: '{field}' is empty")]
    EmptyCell { row: usize, field: &'static str },
}

/// Reads a CSV file with a header row.
pub fn read_csv(path: &Path) -> Result<Vec<Candle>, ColumnarError> {
    let frame = CsvReadOptions::default()
        .with_has_header(true)
        .try_into_reader_with_file_path(Some(path.to_path_buf()))
        .and_then(|reader| reader.finish())
        .map_err(|source| ColumnarError::Read {
            format: "CSV",
            source,
        })?;
    candles_from_frame(&frame)
}

/// Reads a Parquet file.
pub fn read_parquet(path: &Path) -> Result<Vec<Candle>, ColumnarError> {
    let file = std::fs::File::open(path).map_err(ColumnarError::Open)?;
    let frame = ParquetReader::new(file)
        .finish()
        .map_err(|source| ColumnarError::Read {
            format: "Parquet",
            source,
        })?;
    candles_from_frame(&frame)
}

/// Reads a Feather file (Arrow IPC, as freqtrade writes it: LZ4 or zstd
/// compressed, or not).
pub fn read_feather(path: &Path) -> Result<Vec<Candle>, ColumnarError> {
    let file = std::fs::File::open(path).map_err(ColumnarError::Open)?;
    let frame = IpcReader::new(file)
        .finish()
        .map_err(|source| ColumnarError::Read {
            format: "Feather (Arrow IPC)",
            source,
        })?;
    candles_from_frame(&frame)
}

/// Names tried for the open time, in order: ours, then freqtrade's.
const TIME_COLUMNS: [&str; 3] = ["t", "time", "date"];

/// Column names tried for each price and volume field, short name first.
const COLUMNS: [(&str, &str); 5] = [
    ("o", "open"),
    ("h", "high"),
    ("l", "low"),
    ("c", "close"),
    ("v", "volume"),
];

fn candles_from_frame(frame: &DataFrame) -> Result<Vec<Candle>, ColumnarError> {
    let [o, h, l, c, v] = COLUMNS.map(|names| find_column(frame, names));
    let times = time_column_ms(frame)?;
    let times = times.i64().map_err(ColumnarError::Column)?;
    let [o, h, l, c, v] = [o?, h?, l?, c?, v?];
    let floats = [o, h, l, c, v].map(|column| {
        column
            .cast(&DataType::Float64)
            .map_err(|source| ColumnarError::NotNumeric {
                column: column.name().to_string(),
                source,
            })
    });
    let [o, h, l, c, v] = floats;
    let (o, h, l, c, v) = (o?, h?, l?, c?, v?);
    let (o, h, l, c, v) = (
        o.f64().map_err(ColumnarError::Column)?,
        h.f64().map_err(ColumnarError::Column)?,
        l.f64().map_err(ColumnarError::Column)?,
        c.f64().map_err(ColumnarError::Column)?,
        v.f64().map_err(ColumnarError::Column)?,
    );
    let mut candles = Vec::with_capacity(frame.height());
    for row in 0..frame.height() {
        let t = times.get(row);
        let missing = |field| ColumnarError::EmptyCell { row, field };
        let price = |series: &Float64Chunked, field| series.get(row).ok_or_else(|| missing(field));
        candles.push(Candle {
            t: t.ok_or_else(|| missing("t"))?,
            o: price(o, "o")?,
            h: price(h, "h")?,
            l: price(l, "l")?,
            c: price(c, "c")?,
            v: price(v, "v")?,
        });
    }
    Ok(candles)
}

/// The open times in Unix ms: an integer column as it is, a datetime
/// column converted from its unit.
fn time_column_ms(frame: &DataFrame) -> Result<Column, ColumnarError> {
    let column = TIME_COLUMNS
        .iter()
        .find_map(|name| frame.column(name).ok())
        .ok_or(ColumnarError::MissingTime)?;
    let per_ms = match column.dtype() {
        DataType::Datetime(TimeUnit::Nanoseconds, _) => 1_000_000,
        DataType::Datetime(TimeUnit::Microseconds, _) => 1_000,
        _ => 1,
    };
    let raw = column
        .cast(&DataType::Int64)
        .map_err(|source| ColumnarError::NotTime {
            column: column.name().to_string(),
            source,
        })?;
    if per_ms == 1 {
        return Ok(raw);
    }
    let ms: Int64Chunked = raw
        .i64()
        .map_err(ColumnarError::Column)?
        .apply_values(|t| t.div_euclid(per_ms));
    Ok(ms.into_series().into())
}

fn find_column<'a>(
    frame: &'a DataFrame,
    (short, long): (&'static str, &'static str),
) -> Result<&'a Column, ColumnarError> {
    frame
        .column(short)
        .or_else(|_| frame.column(long))
        .map_err(|_| ColumnarError::MissingColumn { short, long })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_with_short_or_long_names_and_extra_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BTCUSDT_BINANCE_15m.csv");
        std::fs::write(
            &path,
            "t,o,h,l,c,v,trades\n1000,1.5,2,1,1.75,10,3\n2000,1.75,2.5,1.5,2.25,0,1\n",
        )
        .unwrap();
        let candles = read_csv(&path).unwrap();
        assert_eq!(
            candles,
            vec![
                Candle {
                    t: 1000,
                    o: 1.5,
                    h: 2.0,
                    l: 1.0,
                    c: 1.75,
                    v: 10.0
                },
                Candle {
                    t: 2000,
                    o: 1.75,
                    h: 2.5,
                    l: 1.5,
                    c: 2.25,
                    v: 0.0
                },
            ]
        );
        std::fs::write(
            &path,
            "time,open,high,low,close,volume\n1000,1.5,2,1,1.75,10\n",
        )
        .unwrap();
        assert_eq!(read_csv(&path).unwrap().len(), 1);
        std::fs::write(&path, "t,o,h,l,c\n1000,1.5,2,1,1.75\n").unwrap();
        assert_eq!(
            read_csv(&path).unwrap_err().to_string(),
            "missing column 'v' (or 'volume')"
        );
    }

    #[test]
    fn what_is_missing_or_wrong_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("BTCUSDT_BINANCE_15m.csv");
        let error = |csv: &str| {
            std::fs::write(&path, csv).unwrap();
            read_csv(&path).unwrap_err().to_string()
        };
        assert_eq!(
            error("open,high,low,close,volume\n1,1,1,1,1\n"),
            "missing column 't' (or 'time' or 'date')"
        );
        // polars casts text that is no number to an empty cell.
        assert_eq!(
            error("t,o,h,l,c,v\n1000,x,1,1,1,1\n"),
            "row 0: 'o' is empty"
        );
        assert_eq!(
            error("t,o,h,l,c,v\n1000,1,1,1,1,1\n2000,1,,1,1,1\n"),
            "row 1: 'h' is empty"
        );
        assert!(read_parquet(&dir.path().join("absent.parquet"))
            .unwrap_err()
            .to_string()
            .starts_with("cannot open: "));
        assert!(read_feather(&path)
            .unwrap_err()
            .to_string()
            .starts_with("cannot read Feather (Arrow IPC): "));
    }

    #[test]
    fn parquet_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ETH_HYPERLIQUID_4h.parquet");
        let mut frame = df!(
            "t" => [1000i64, 2000],
            "o" => [1.5f64, 1.75],
            "h" => [2.0f64, 2.5],
            "l" => [1.0f64, 1.5],
            "c" => [1.75f64, 2.25],
            "v" => [10.0f64, 0.0],
        )
        .unwrap();
        let file = std::fs::File::create(&path).unwrap();
        ParquetWriter::new(file).finish(&mut frame).unwrap();
        let candles = read_parquet(&path).unwrap();
        assert_eq!(
            candles[1],
            Candle {
                t: 2000,
                o: 1.75,
                h: 2.5,
                l: 1.5,
                c: 2.25,
                v: 0.0
            }
        );
    }
}
