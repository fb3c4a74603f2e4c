"""The API's response bodies, with the examples its OpenAPI document shows."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


def _example(example: dict) -> ConfigDict:
    return ConfigDict(json_schema_extra={"examples": [example]})


class GenreScore(BaseModel):
    genre: str
    probability: float = Field(ge=0, le=1, description="Calibrated: of posters given this "
                               "probability with the same inputs, about this share have it.")
    decided: bool = Field(description="Whether the decision rule gives this poster the genre.")
    threshold: float = Field(ge=0, le=1, description="The genre's cut-off for these inputs: "
                             "decided at or above it, unless the cap on genres per poster "
                             "keeps more probable ones.")


class InputsUsed(BaseModel):
    used: list[str] = Field(description="Record fields the model read for this poster.")
    ignored: list[str] = Field(description="Fields sent that this model does not take.")
    rule: list[str] = Field(description="The optional inputs whose calibration and decision "
                            "rule answered (those used, besides the poster).")


class PosterResult(BaseModel):
    file: str = Field(description="The uploaded file's name.")
    genres: list[GenreScore] = Field(description="Every genre, most probable first.")
    decided: list[str] = Field(description="The decided genres, most probable first.")
    inputs: InputsUsed


PREDICTION = {"file": "variant-a.jpg",
              "genres": [{"genre": "Horror", "probability": 0.81, "decided": True,
                          "threshold": 0.35},
                         {"genre": "Thriller", "probability": 0.44, "decided": False,
                          "threshold": 0.47}],
              "decided": ["Horror"], "inputs": {"used": ["poster"], "ignored": ["title"],
                                                "rule": []}}


class PredictResponse(BaseModel):
    model_config = _example({"model": "frozen-backbones+head@3bb566cd1772",
                             "posters": [PREDICTION]})
    model: str = Field(description="The model's id: its kind and graph checksum.")
    posters: list[PosterResult] = Field(description="One result per image, in upload order.")


class InputSpec(BaseModel):
    name: str
    type: str
    required: bool


class SimilarInfo(BaseModel):
    films: int
    dims: int
    bytes: int
    thumbnails: bool = Field(description="Whether the films' posters come as thumbnails.")


class FormField(BaseModel):
    name: str
    type: str
    help: str
    minimum: float | None = Field(None, description="The smallest number taken.")
    maximum: float | None = Field(None, description="The largest number taken.")
    max_length: int | None = Field(None, description="The most characters of a text taken.")


class ModelInfo(BaseModel):
    model_config = _example({
        "id": "frozen-backbones+head@3bb566cd1772", "name": "frozen-backbones+head",
        "genres": ["Drama", "Comedy", "Horror"],
        "thresholds": {"Drama": 0.56, "Comedy": 0.58, "Horror": 0.59},
        "max_genres": 5, "at_least_one": True,
        "inputs": [{"name": "poster", "type": "image", "required": True}],
        "fields": [{"name": "year", "type": "number", "help": "The release year.",
                    "minimum": 1870, "maximum": 2035}],
        "metrics": {"test": {"macro_map": 0.297, "macro_f1": 0.328}},
        "similar": {"films": 20387, "dims": 128, "bytes": 20500000, "thumbnails": True},
        "report": "/report",
        "limits": {"max_files": 16, "max_file_bytes": 10485760}})
    id: str
    name: str
    genres: list[str]
    thresholds: dict[str, float]
    max_genres: int | None
    at_least_one: bool
    inputs: list[InputSpec]
    fields: list[FormField] = Field(description="The film details a request may send beside "
                                    "its posters, with what each accepts.")
    metrics: dict
    similar: SimilarInfo | None = Field(description="The comparable-films index, if any.")
    report: str | None = Field(description="Where the model's report is served, if it has one.")
    limits: dict[str, int | float]


class ExplainResponse(BaseModel):
    model_config = _example({
        "model": "frozen-backbones+head@3bb566cd1772", "file": "variant-a.jpg",
        "genre": "Horror", "probability": 0.81, "rows": 2, "cols": 2,
        "grid": [[0.12, 0.02], [-0.01, 0.30]],
        "overlay": "data:image/png;base64,iVBORw0KGgo..."})
    model: str
    file: str
    genre: str
    probability: float = Field(description="The genre's probability on the whole poster.")
    rows: int
    cols: int
    grid: list[list[float]] = Field(
        description="Per cell: the probability on the whole poster minus that with the cell "
                    "hidden; positive where the region raises the genre.")
    overlay: str = Field(description="The poster canvas with the grid painted on (PNG, data "
                                     "URL): red raises the genre, blue lowers it.")


class Film(BaseModel):
    id: str
    title: str | None
    year: int | None
    genres: list[str]
    distance: float = Field(description="1 - cosine similarity of the reduced embeddings.")
    thumbnail: str | None = Field(description="The address of its poster, small (WebP).")


class SimilarResponse(BaseModel):
    model_config = _example({
        "model": "frozen-backbones+head@3bb566cd1772", "file": "variant-a.jpg",
        "films": [{"id": "tt0081505", "title": "The Shining", "year": 1980,
                   "genres": ["Drama", "Horror"], "distance": 0.21,
                   "thumbnail": "/v1/films/tt0081505/thumbnail"}]})
    model: str
    file: str
    films: list[Film]


class ErrorBody(BaseModel):
    model_config = _example({"status": 415, "error": "not an image (JPEG, PNG, WebP, GIF, BMP "
                             "or TIFF expected)", "file": "notes.jpg"})
    status: int
    error: str
    file: str | None = None
    field: str | None = None


class Health(BaseModel):
    status: str
    model: str
