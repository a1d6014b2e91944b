from ragline.text.token_counters import EstimateCounter, TiktokenCounter, is_openai_model, make_token_counter
from ragline.text.tokenizer import HFTokenizer, packaged_model_dir


def test_openai_models_are_counted_with_tiktoken_offline() -> None:
    counter = make_token_counter("auto", "gpt-4o-mini", HFTokenizer(packaged_model_dir()))
    assert isinstance(counter, TiktokenCounter)
    # "hello world" is two cl100k tokens; no download happens (the network is blocked in tests).
    assert counter.count("hello world") == 2
    assert counter.count_batch(["hello world", "", "a b c"]) == [2, 0, 3]


def test_unknown_models_use_the_embedding_tokenizer_as_an_estimate() -> None:
    tok = HFTokenizer(packaged_model_dir())
    counter = make_token_counter("auto", "llama3.1:8b", tok)
    assert isinstance(counter, EstimateCounter)
    assert counter.count("hello world") == tok.count("hello world") == 2
    assert isinstance(make_token_counter("auto", None, tok), EstimateCounter)
    assert isinstance(make_token_counter("tiktoken", "llama3.1", tok), TiktokenCounter)
    assert isinstance(make_token_counter("embedding", "gpt-4o", tok), EstimateCounter)


def test_is_openai_model() -> None:
    assert is_openai_model("gpt-4.1-mini") and is_openai_model("o3-mini")
    assert not is_openai_model("mistral") and not is_openai_model(None)
