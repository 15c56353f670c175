"""The web page of `logo db serve` (`app.serve`): the Flask application (`server`), the browse and
overview SQL (`queries`), images in and out (`images`) and background solves (`solving`)."""
