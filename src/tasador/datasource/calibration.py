"""Calibration of the synthetic listing generator.

Every number here comes from the published statistics of the full 2024 Kaggle realtor file
(2,226,382 rows; `STATS.md` [FULL] and `full_dataset_state_summary.csv` in the project's shared
data notes) unless its comment says it comes from the 10,000-row random sample [S10K]. The numbers
are copied in as constants so the generator never reads those notes at run time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class StateProfile:
    """Published per-state figures of the full file.

    `records` and the status counts cover all rows; `median_price` covers rows priced $1k–$1B.
    """

    name: str
    records: int
    median_price: float
    for_sale: int
    sold: int
    ready_to_build: int
    zip3: tuple[int, int]  # first three ZIP digits the state's codes use (inclusive, USPS ranges)

    @property
    def status_shares(self) -> tuple[float, float, float]:
        """Shares of for_sale, sold and ready_to_build rows in this state."""
        total = self.for_sale + self.sold + self.ready_to_build
        return (self.for_sale / total, self.sold / total, self.ready_to_build / total)


# Published full-file state summary (the single stray "New Brunswick" row is left out), with the
# USPS three-digit ZIP prefix range of each state, so synthetic ZIP codes look like real ones (New
# England, New Jersey, Puerto Rico and the Virgin Islands get leading zeros: about 5.6% of rows).
STATE_PROFILES: Final[tuple[StateProfile, ...]] = (
    StateProfile("Florida", 249432, 319900, 161216, 85592, 2624, (320, 349)),
    StateProfile("California", 227215, 669206, 101034, 125013, 1168, (900, 961)),
    StateProfile("Texas", 208335, 315000, 122172, 80548, 5615, (750, 799)),
    StateProfile("New York", 103159, 420000, 71378, 31759, 22, (100, 149)),
    StateProfile("North Carolina", 85745, 249900, 57129, 27462, 1154, (270, 289)),
    StateProfile("Illinois", 85280, 249900, 53194, 31848, 238, (600, 629)),
    StateProfile("Georgia", 80977, 299900, 51517, 28943, 517, (300, 319)),
    StateProfile("Pennsylvania", 78373, 245000, 46878, 29488, 2007, (150, 196)),
    StateProfile("Arizona", 72825, 380000, 37657, 34126, 1042, (850, 865)),
    StateProfile("Virginia", 68763, 355000, 35572, 32676, 515, (220, 246)),
    StateProfile("Washington", 62461, 515000, 25210, 36923, 328, (980, 994)),
    StateProfile("Ohio", 59207, 174900, 36660, 21235, 1312, (430, 459)),
    StateProfile("New Jersey", 48199, 400000, 33400, 14637, 162, (70, 89)),
    StateProfile("Maryland", 46052, 369900, 20349, 25041, 662, (206, 219)),
    StateProfile("Missouri", 45145, 209900, 30057, 14952, 136, (630, 658)),
    StateProfile("Minnesota", 43412, 299900, 24541, 18386, 485, (550, 567)),
    StateProfile("Michigan", 42429, 169000, 34786, 6093, 1550, (480, 499)),
    StateProfile("Wisconsin", 42390, 205000, 24313, 18068, 9, (530, 549)),
    StateProfile("South Carolina", 42367, 279900, 30533, 11126, 708, (290, 299)),
    StateProfile("Tennessee", 40964, 239900, 36509, 4313, 142, (370, 385)),
    StateProfile("Massachusetts", 38041, 500000, 10189, 27811, 41, (10, 27)),
    StateProfile("Oklahoma", 37140, 204000, 18475, 18083, 582, (730, 749)),
    StateProfile("Alabama", 34053, 204900, 26486, 6765, 802, (350, 369)),
    StateProfile("Colorado", 32293, 510030, 26911, 4676, 706, (800, 816)),
    StateProfile("Oregon", 32163, 474900, 20398, 11642, 123, (970, 979)),
    StateProfile("Kentucky", 26316, 199900, 18615, 6899, 802, (400, 427)),
    StateProfile("Louisiana", 25815, 205000, 23013, 2639, 163, (700, 714)),
    StateProfile("Arkansas", 23045, 165000, 19013, 4025, 7, (716, 729)),
    StateProfile("Iowa", 23033, 191558, 13875, 9158, 0, (500, 528)),
    StateProfile("New Mexico", 21074, 230000, 13168, 7891, 15, (870, 884)),
    StateProfile("Indiana", 18840, 215000, 18279, 117, 444, (460, 479)),
    StateProfile("Idaho", 16760, 479900, 11899, 4625, 236, (832, 838)),
    StateProfile("Mississippi", 16255, 170000, 14894, 1361, 0, (386, 397)),
    StateProfile("Kansas", 14858, 195000, 10810, 4048, 0, (660, 679)),
    StateProfile("Nevada", 14667, 449900, 10394, 3955, 318, (889, 898)),
    StateProfile("Utah", 14557, 544999, 13817, 587, 153, (840, 847)),
    StateProfile("Connecticut", 14008, 345000, 13940, 64, 4, (60, 69)),
    StateProfile("West Virginia", 12309, 160000, 8571, 3667, 71, (247, 268)),
    StateProfile("Montana", 10059, 399000, 7296, 2763, 0, (590, 599)),
    StateProfile("Delaware", 8628, 350000, 5143, 3287, 198, (197, 199)),
    StateProfile("Rhode Island", 8157, 360000, 3420, 4737, 0, (28, 29)),
    StateProfile("Hawaii", 7243, 665000, 6994, 249, 0, (967, 968)),
    StateProfile("District of Columbia", 6625, 649900, 2922, 3703, 0, (200, 205)),
    StateProfile("Nebraska", 6309, 225000, 6118, 191, 0, (680, 693)),
    StateProfile("Maine", 5065, 175000, 5062, 3, 0, (39, 49)),
    StateProfile("South Dakota", 4690, 215000, 4597, 93, 0, (570, 577)),
    StateProfile("North Dakota", 4268, 189000, 4243, 25, 0, (580, 588)),
    StateProfile("Wyoming", 4039, 255000, 4013, 26, 0, (820, 831)),
    StateProfile("New Hampshire", 3642, 349900, 3563, 79, 0, (30, 38)),
    StateProfile("Puerto Rico", 3126, 174950, 2664, 462, 0, (6, 7)),
    StateProfile("Vermont", 2600, 259950, 2596, 4, 0, (50, 59)),
    StateProfile("Alaska", 2581, 139700, 2581, 0, 0, (995, 999)),
    StateProfile("Virgin Islands", 895, 249000, 750, 145, 0, (8, 8)),
    StateProfile("Guam", 489, 360000, 489, 0, 0, (969, 969)),
)

# Size of the published file and of what the course API served from it (DATA_API.md): the API
# serves the complete-case rows, so `rows` raw rows give about `rows * SERVED_FRACTION` served rows.
FULL_FILE_ROWS: Final[int] = 2_226_382
FULL_FILE_SERVED_ROWS: Final[int] = 1_084_909
SERVED_FRACTION: Final[float] = FULL_FILE_SERVED_ROWS / FULL_FILE_ROWS

STATUSES: Final[tuple[str, str, str]] = ("for_sale", "sold", "ready_to_build")

# --- price -------------------------------------------------------------------------------------
# Within a state, log(price) = log(state median) + status shift + 0.9 * log-size deviation
# + city and ZIP effects + a left-skewed residual; land-only listings (no bed, bath or size) sit
# far below (S10K: median $85k against $415k for complete for_sale rows). Spreads are tuned so
# the overall log-price sd is about 1.1 and the published price quantiles are matched (see tests).
PRICE_SIZE_ELASTICITY: Final[float] = 0.9  # S10K log-log fit 0.905, FULL 0.969
# Among homes (not land), for_sale rows sit above sold ones [S10K complete rows: $415k vs $367k];
# with land mostly for_sale, this gives the published status medians ($305k vs $345k).
PRICE_STATUS_SHIFT: Final[dict[str, float]] = {"for_sale": 0.15, "sold": -0.10}
PRICE_LAND_SHIFT: Final[float] = -1.5  # log(85k / 415k), S10K
PRICE_LAND_SD: Final[float] = 1.0  # land prices run from a few $k to $1M+
PRICE_LUXURY_SHARE: Final[float] = 0.015  # a thin luxury tail: 0.2% of rows above $10M [FULL]
PRICE_LUXURY_SHIFT: Final[tuple[float, float]] = (2.0, 0.6)  # log shift: mean, sd
PRICE_CITY_SD: Final[float] = 0.22  # location dominates: ZIP explains 57%, city 51%, state 20%
PRICE_ZIP_SD: Final[float] = 0.18
PRICE_RESIDUAL_SD: Final[tuple[float, float]] = (0.45, 0.20)  # split normal: below, above median
# ready_to_build: new-build packages in a narrow band (S10K median $423k, IQR $366k–$526k).
READY_TO_BUILD_MEDIAN: Final[float] = 423_000
READY_TO_BUILD_LOG_SD: Final[float] = 0.27
READY_TO_BUILD_RANGE: Final[tuple[float, float]] = (238_950, 1_100_000)
READY_TO_BUILD_STATE_ELASTICITY: Final[float] = 0.25  # mild pull towards the state median

# --- house_size, bed, bath, acre_lot -----------------------------------------------------------
# Marginal quantiles (probability, value) [S10K], interpolated in log space; ends are set a little
# beyond the published p1/p99 so the clean range is covered.
HOUSE_SIZE_QUANTILES: Final[tuple[tuple[float, float], ...]] = (
    (0.0, 300),
    (0.001, 420),
    (0.01, 604),
    (0.05, 852),
    (0.10, 1008),
    (0.25, 1312),
    (0.50, 1763),
    (0.75, 2404),
    (0.90, 3264),
    (0.95, 4032),
    (0.99, 6577),
    (0.999, 12_000),
    (1.0, 30_000),
)
ACRE_LOT_QUANTILES: Final[tuple[tuple[float, float], ...]] = (
    (0.0, 0.005),
    (0.01, 0.02),
    (0.05, 0.05),
    (0.10, 0.09),
    (0.25, 0.16),
    (0.50, 0.26),
    (0.75, 0.97),
    (0.90, 4.75),
    (0.95, 13.0),
    (0.99, 99.6),
    (0.999, 1_000.0),
    (1.0, 100_000.0),
)
# Bedroom mix [FULL, rows with 1–20 beds]; 9+ spread over 9–12.
BED_MIX: Final[tuple[tuple[int, float], ...]] = (
    (1, 0.037),
    (2, 0.178),
    (3, 0.432),
    (4, 0.253),
    (5, 0.069),
    (6, 0.018),
    (7, 0.005),
    (8, 0.003),
    (9, 0.002),
    (10, 0.001),
    (11, 0.0005),
    (12, 0.0005),
)
# Bathroom mix [S10K counts 1:1147, 2:3386, 3:2067, 4:769, 5:199, 6:77, 7:32, 8:18, 9+:~20];
# whole numbers only in this release.
BATH_MIX: Final[tuple[tuple[int, float], ...]] = (
    (1, 0.1486),
    (2, 0.4388),
    (3, 0.2679),
    (4, 0.0997),
    (5, 0.0258),
    (6, 0.0100),
    (7, 0.0041),
    (8, 0.0023),
    (9, 0.0010),
    (10, 0.0008),
    (12, 0.0010),
)
# Gaussian-copula correlations of the latent drivers, tuned to give corr(bed, log size) ~0.62 and
# corr(bed, bath) ~0.7 [S10K 0.66 and 0.65-0.74], corr(log acre_lot, log size) ~0.17 [S10K].
BED_SIZE_LATENT_CORR: Final[float] = 0.72
BATH_BED_LATENT_CORR: Final[float] = 0.80
ACRE_SIZE_LATENT_CORR: Final[float] = 0.20

# --- missingness -------------------------------------------------------------------------------
# Joint missingness of (bed, bath, house_size, acre_lot, prev_sold_date) within each status,
# as pattern -> share ("1" = missing) [S10K, first 5k rows; its marginals match STATS.md §2:
# for_sale bed 29%, prev_sold_date 50%; sold bed 9%, never a missing date; ready_to_build never
# has bath, acre_lot or prev_sold_date]. Missingness is strongly joint (land listings miss bed,
# bath and size together), which is why about 49% of rows are complete cases.
MISSING_PATTERN_COLUMNS: Final[tuple[str, ...]] = (
    "bed",
    "bath",
    "house_size",
    "acre_lot",
    "prev_sold_date",
)
MISSING_PATTERNS: Final[dict[str, tuple[tuple[str, float], ...]]] = {
    "for_sale": (
        ("00000", 35.5),
        ("11101", 22.2),
        ("00001", 19.4),
        ("11100", 5.8),
        ("00011", 5.5),
        ("00010", 4.9),
        ("00100", 2.2),
        ("00101", 1.1),
        ("00111", 0.9),
        ("11111", 0.7),
        ("00110", 0.5),
        ("10010", 0.3),
        ("01000", 0.2),
        ("10110", 0.1),
    ),
    "sold": (
        ("00000", 76.3),
        ("00010", 10.5),
        ("11100", 6.6),
        ("00100", 2.8),
        ("00110", 1.2),
        ("01110", 1.0),
        ("11000", 0.8),
        ("01000", 0.2),
        ("11110", 0.2),
        ("10000", 0.2),
        ("10110", 0.1),
        ("10010", 0.1),
        ("11010", 0.1),
    ),
    "ready_to_build": (("01011", 100.0),),
}
# Columns missing independently of status [FULL %, STATS.md §2] and price by status [S10K].
MISSING_RATES: Final[dict[str, float]] = {
    "brokered_by": 0.0020,
    "street": 0.0049,
    "city": 0.0006,
    "zip_code": 0.0001,
}
PRICE_MISSING_BY_STATUS: Final[dict[str, float]] = {
    "for_sale": 0.001,
    "sold": 0.0,
    "ready_to_build": 0.019,
}

# --- prev_sold_date ----------------------------------------------------------------------------
# Sold rows carry the recent sale date, always within this window [FULL]; other rows an older
# sale, median 2015-06-25 for for_sale rows [S10K]: drawn as years before the reference date.
SOLD_DATE_WINDOW: Final[tuple[str, str]] = ("2021-10-18", "2022-05-06")
OLDER_SALE_REFERENCE: Final[str] = "2022-04-30"
OLDER_SALE_MEDIAN_YEARS: Final[float] = 6.8
OLDER_SALE_LOG_SD: Final[float] = 0.9
OLDER_SALE_EARLIEST: Final[str] = "1960-01-01"

# --- dirt (share of all rows, FULL counts / 2,226,382, STATS.md §5) ------------------------------
DIRT_RATES: Final[dict[str, float]] = {
    "price_zero": 280 / FULL_FILE_ROWS,
    "price_under_1k": (1_226 - 280) / FULL_FILE_ROWS,  # about 40% of them exactly $1
    "price_int32_overflow": 2 / FULL_FILE_ROWS,  # 2,147,483,600
    "house_size_over_50k": 156 / FULL_FILE_ROWS,
    "house_size_under_100": 100 / FULL_FILE_ROWS,  # not published; min 4, S10K has 11 under 400
    "bed_over_20": 725 / FULL_FILE_ROWS,
    "bath_over_20": 401 / FULL_FILE_ROWS,
    "acre_lot_zero": 2_226 / FULL_FILE_ROWS,
    "prev_sold_date_out_of_range": 15 / FULL_FILE_ROWS,
}
# Re-listed properties: 5.8% extra rows; 94.2% of the groups pair a for_sale and a sold row and
# 93.5% repeat the same price [FULL].
RELISTED_SHARE: Final[float] = 0.058
RELISTED_CROSS_STATUS: Final[float] = 0.942
RELISTED_SAME_PRICE: Final[float] = 0.935

# --- codes and geography -----------------------------------------------------------------------
BROKER_CODES: Final[int] = 110_000  # codes in the file run to about 110k; ~0.7 distinct per row
STREET_CODES: Final[int] = 2_100_000  # 2.0M distinct street codes in 2.2M rows
CITIES_PER_SQRT_RECORD: Final[float] = 1 / 22  # a few hundred cities in all, 2-25 per state
MAX_ZIPS_PER_CITY: Final[int] = 8
SCRAPE_PASSES: Final[tuple[float, ...]] = (0.6, 0.4)  # file order: passes over the ZIP range


def raw_rows_for_served(served_rows: int) -> int:
    """Raw rows to generate so that about `served_rows` complete rows are served.

    The full file's 2,226,382 rows gave the course API's 1,084,909 served rows.
    """
    return round(served_rows / SERVED_FRACTION)
