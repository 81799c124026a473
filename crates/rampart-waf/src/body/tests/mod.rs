mod fuzz;
mod json;
mod multipart;
mod urlencoded;
mod xml;
