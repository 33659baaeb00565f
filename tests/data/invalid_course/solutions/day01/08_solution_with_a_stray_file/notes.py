# scratch
